// The client's texts: French first (the seed manual's labels, verbatim), and
// an English catalogue with the same keys. The browser's preferred languages
// choose; French is the default (the helper shared with the admin console:
// shared/i18n.ts).
//
// French has two registers: « tu » for pupils (`fr`, the seed's own voice) and
// « vous » for adults (parents, teachers, staff, guests), whose texts differ
// only where they speak to the user (`vous`, over `fr`). The user's profile
// comes from the directory through the server (our own vCard); before the
// login it is unknown, and the client says « vous » unless the portal passes
// a hint (`?register=tu`, see docs/web-client.md).
//
// `{name}`-style placeholders are filled by `t(key, { name })`.

import { byName, formatTime, lang, translator } from './shared/i18n';

const fr = {
  appTitle: 'Chat',
  loginHeading: 'Connexion au chat',
  loginIntro: "Connecte-toi avec l'identifiant et le mot de passe de ton ENT.",
  loginId: 'Identifiant',
  loginPassword: 'Mot de passe',
  loginSubmit: 'Se connecter',
  loginPortal: "Se connecter avec l'ENT",
  loginPortalIntro: "Connecte-toi avec ton compte de l'ENT.",
  loginPortalOr: 'ou avec un identifiant et un mot de passe du chat :',
  ssoEnded: "Ta session de l'ENT est terminée. Reconnecte-toi à l'ENT pour retrouver le chat.",
  ssoUnknownUser: "Ton compte de l'ENT n'a pas de compte de chat. Adresse-toi à ton établissement.",
  ssoNoAccess: "Le chat n'est pas ouvert pour ton compte.",
  ssoCasFailed: "La connexion avec l'ENT a échoué. Réessaie.",
  ssoUnreachable: "Le service de connexion de l'ENT ne répond pas. Réessaie dans un instant.",
  loginConnecting: 'Connexion en cours…',
  loginMissing: 'Saisis ton identifiant et ton mot de passe.',
  loginBadCredentials: 'Identifiant ou mot de passe incorrect.',
  loginUnreachable: 'Impossible de joindre le serveur de chat. Réessaie dans un instant.',
  loginSecureContext:
    "Cette page doit être ouverte en HTTPS pour que la connexion soit protégée. Contacte l'administrateur de l'ENT.",
  logout: 'Se déconnecter',
  connectionLost: 'Connexion perdue. Reconnexion en cours…',
  connectionBack: 'Connexion rétablie.',

  stateLabel: 'État : ',
  stateMenu: 'Changer mon état',
  available: 'Disponible',
  away: 'Absent',
  dnd: 'Ne pas déranger',
  offline: 'Hors ligne',

  tabContacts: 'Contacts',
  tabRequests: 'Mes demandes',
  tabRequestsCount: 'Mes demandes ({n})',
  contactTree: 'Liste des contacts',
  allContacts: 'Tous mes contacts',
  otherContacts: 'Autres contacts',
  categoryCount: '{name} ({n})',
  pending: 'Invitation en attente',
  refused: 'Invitation refusée',
  noContacts: "Tu n'as pas encore de contact. Ouvre le menu de « Tous mes contacts » et choisis « Ajouter contacts ».",

  actions: 'Actions',
  actionsFor: 'Actions : {name}',
  createCategory: 'Créer une catégorie',
  addContacts: 'Ajouter contacts',
  deleteCategory: 'Supprimer catégorie',
  renameCategory: 'Renommer la catégorie',
  moveContact: 'Déplacer vers une autre catégorie',
  putInCategory: 'Mettre dans une catégorie',
  deleteContact: 'Supprimer contact',
  startConversation: 'Commencer conversation',
  privateMessage: 'Écrire en privé',

  ok: 'OK',
  cancel: 'Annuler',
  yes: 'Oui',
  no: 'Non',

  categoryName: 'Nom de la catégorie',
  categoryNameMissing: 'Donne un nom à la catégorie.',
  categoryExists: 'La catégorie « {name} » existe déjà.',
  categoryReserved: '« {name} » est le nom d’une liste du chat ; choisis un autre nom.',
  categoryTooLong: 'Le nom de la catégorie est trop long ({n} caractères au plus).',
  categoryTooMany: 'Tu as déjà {n} catégories : supprimes-en une avant d’en créer une autre.',
  renameCategoryTitle: 'Renommer la catégorie « {name} »',
  categoryNewName: 'Nouveau nom de la catégorie',
  moveTitle: 'Déplacer {name}',
  moveFrom: '{name} est dans la catégorie « {from} ».',
  moveFromOthers: '{name} est dans « Autres contacts ».',
  moveTo: 'Vers la catégorie',
  moveButton: 'Déplacer',
  moveChooseFirst: "Choisis d'abord une catégorie.",
  moveNowhere: "Il n'y a pas d'autre catégorie. Crée-la d'abord avec « Créer une catégorie » dans le menu de « Tous mes contacts ».",
  contactMoved: '{name} est maintenant dans « {to} ».',
  dragHint: 'Pour ranger un contact, fais-le glisser sur une catégorie, ou ouvre son menu et choisis « Déplacer vers une autre catégorie ».',

  searchLabel: 'Rechercher',
  searchButton: 'Rechercher',
  searchHint: 'Recherche une personne de ton établissement par son nom ou son prénom.',
  searchResults: 'Résultats de la recherche',
  searching: 'Recherche en cours…',
  searchNone: 'Personne ne correspond à cette recherche.',
  searchCount: '{n} personne(s) trouvée(s).',
  alreadyContact: 'déjà dans tes contacts',
  addInto: 'Le contact sera ajouté à la catégorie « {name} ».',
  addIntoOthers: 'Le contact sera ajouté à « Autres contacts ».',
  addContact: 'Ajouter le contact',
  addChooseFirst: "Choisis d'abord une personne dans les résultats.",

  report: 'Signaler',
  reportTitle: 'Signaler {name}',
  reportMessageTitle: 'Signaler le message de {name}',
  reportMessage: 'Signaler ce message',
  messageModerated: 'Message supprimé par la modération',
  deleteForEveryone: 'Supprimer pour tout le monde',
  confirmDeleteForEveryone:
    'Supprimer ce message de {name} pour tout le monde ? Il disparaît de la conversation et de son archive.',
  messageActions: 'Options du message de {name} de {time}',
  reportIntro:
    "Ton signalement sera transmis à ton établissement, avec les derniers messages échangés. La personne signalée n'en saura rien.",
  reportReason: 'Motif',
  reportAbuse: 'Harcèlement, insultes ou menaces',
  reportSpam: 'Messages indésirables',
  reportOther: 'Autre',
  reportDetails: 'Précisions (facultatif)',
  reportSend: 'Envoyer le signalement',
  reportSent: 'Ton signalement a été transmis à ton établissement.',

  confirmDeleteCategory:
    'Supprimer la catégorie « {name} » ? Ses contacts seront déplacés dans « Autres contacts ».',
  confirmDeleteContact:
    'Supprimer {name} de tes contacts ? Tu disparaîtras aussi de sa liste de contacts.',
  categoryRemoved: 'La catégorie « {name} » ne contient plus de contacts : elle a été supprimée.',

  requestsList: 'Demandes reçues',
  requestsNone: "Tu n'as aucune demande en attente.",
  contactRequest: 'Demande de contact',
  accept: 'Accepter',
  refuse: 'Refuser',

  conversations: 'Conversations',
  conversationsNone:
    'Aucune conversation ouverte. Pour en commencer une, ouvre le menu d’un contact disponible (voyant vert) et choisis « Commencer conversation ».',
  conversationWith: 'Conversation avec {name}',
  closeConversation: 'Fermer la conversation',
  unread: '{n} non lu(s)',
  messages: 'Messages',
  message: 'Message',
  send: 'Envoyer',
  editorHelp: 'Entrée envoie le message, Maj+Entrée va à la ligne.',
  smileys: 'Insérer un smiley',
  attachFile: 'Joindre un fichier',
  sendingFile: 'Envoi du fichier en cours…',
  fileTooLarge: 'Fichier trop gros : {max} Mo au plus.',
  fileTypeRefused: 'Seules les images (JPEG, PNG, WebP, GIF) et les PDF peuvent être envoyés.',
  fileEmpty: 'Ce fichier est vide.',
  fileSendFailed: "Le fichier n'a pas pu être envoyé. Réessaie dans un instant.",
  fileSharingOff: "Le partage de fichiers n'est pas ouvert dans ton établissement.",
  sharedImage: 'Image : {name}',
  downloadFile: 'Télécharger {name}',
  smileyPicker: 'Smileys',
  notDelivered: 'Message non remis : {reason}',

  roomName: 'Nom de la conversation',
  roomNameMissing: 'Donne un nom à la conversation.',
  roomHeading: 'Conversation « {name} »',
  roomJoining: 'Entrée dans la conversation…',
  roomParticipantsCount: '{n} participant(s)',
  roomLeftState: "Tu n'es plus dans cette conversation.",
  roomNotIn: "Tu ne fais plus partie de cette conversation.",
  roomJoinFailed: "Impossible d'entrer dans la conversation : {reason}",
  roomDestroyed: "Cette conversation n'existe plus.",
  roomJoined: '{name} a rejoint la conversation | {time}.',
  roomLeft: '{name} a quitté la conversation : {time}',
  roomInvitedBy: '{name} t’invite dans une conversation.',
  roomInvitation: 'Invitation à une conversation',
  participants: 'Participants',
  participantsCount: 'Participants ({n})',
  newTab: '(nouvel onglet)',
  me: 'moi',
  creator: 'créateur',
  inviteContact: 'Inviter contact',
  inviteHint: 'Choisis un de tes contacts disponibles (voyant vert).',
  inviteNone: "Aucun de tes contacts disponibles n'est hors de la conversation.",
  inviteButton: 'Inviter',
  inviteChooseFirst: "Choisis d'abord un contact.",
  inviteSent: 'Invitation envoyée à {name}.',
  inviteRefused: "Invitation de {name} impossible : {reason}",
  removeParticipant: 'Retirer de la conversation',
  confirmRemoveParticipant: 'Renvoyer ce participant de la conversation ?',
  actionsForParticipant: 'Actions : {name}',
  myRooms: 'Mes conversations',
  olderMessages: 'Messages précédents',
  historyStart: 'Début de la conversation',
  myRoomsHint: 'Les conversations dont tu fais partie. Les ouvrir affiche leurs derniers messages.',
  myRoomsNone: "Tu ne fais partie d'aucune autre conversation.",
  myRoomsLoading: 'Chargement…',
  openRoom: 'Ouvrir',

  offlineHint: '{name} est hors ligne : tes messages lui seront remis à sa prochaine connexion.',
  quietBanner:
    'Ne pas déranger : heures calmes jusqu’à {until}. Les messages reçus d’ici là te seront remis à {until}.',
  quietHeld: '{name} est en heures calmes jusqu’à {until} : ton message lui sera remis à ce moment-là.',
  shutdownReadOnly: 'Messagerie en lecture seule : ton établissement a suspendu l’envoi de messages.',
  shutdownStaffToFamilies:
    'Messagerie restreinte par ton établissement : seuls les enseignants et le personnel peuvent écrire.',
  shutdownSchoolText: 'Message de l’établissement : « {text} »',
  settings: 'Réglages',
  settingsNewMessages: 'Nouveaux messages quand la fenêtre du chat est cachée',
  settingsNotify: 'Afficher une notification sur le bureau',
  settingsSound: 'Jouer un son',
  settingsNotifyDenied:
    'Ton navigateur refuse les notifications de ce site. Tu peux les autoriser dans les réglages du navigateur.',
  settingsNotifyUnsupported: 'Ce navigateur ne sait pas afficher de notifications.',
  close: 'Fermer',
  settingsAwayAfter: 'Passer à « Absent » après un moment sans activité',
  settingsMinutes: '{n} minutes',
  settingsNever: 'Jamais',
  settingsData: 'Mes données',
  settingsDataIntro:
    'Télécharge tout ce que le serveur du chat garde de toi (tes contacts, ton profil, tes conversations) dans un fichier JSON. Pour confirmer, saisis ton mot de passe.',
  settingsDataIntroPortal:
    'Télécharge tout ce que le serveur du chat garde de toi (tes contacts, ton profil, tes conversations) dans un fichier JSON.',
  settingsDataPassword: 'Mot de passe',
  settingsDataDownload: 'Télécharger mes données',
  settingsDataBusy: 'Préparation du fichier…',
  settingsDataBad: 'Mot de passe incorrect.',
  settingsDataFailed: "Le fichier n'a pas pu être préparé. Réessaie dans un instant.",
  settingsDataDone: 'Tes données ont été téléchargées.',
  notifyRoom: '{name} dans « {room} »',

  rulesRefusal: "Les règles de ton établissement ne permettent pas cette action.",
  actionFailed: "L'action n'a pas abouti ({condition}).",
  dismiss: 'Fermer ce message',
};

export type Key = keyof typeof fr;
type Catalogue = Record<Key, string>;

/**
 * The « vous » forms of the texts that speak to the user; every other text
 * is the same in both registers. (A unit test checks that no « tu » is left
 * in « vous » and no « vous » in « tu ».)
 */
const vous: Partial<Catalogue> = {
  settingsDataIntroPortal:
    'Téléchargez tout ce que le serveur du chat garde de vous (vos contacts, votre profil, vos conversations) dans un fichier JSON.',
  settingsDataIntro:
    'Téléchargez tout ce que le serveur du chat garde de vous (vos contacts, votre profil, vos conversations) dans un fichier JSON. Pour confirmer, saisissez votre mot de passe.',
  settingsDataFailed: "Le fichier n'a pas pu être préparé. Réessayez dans un instant.",
  settingsDataDone: 'Vos données ont été téléchargées.',
  reportIntro:
    "Votre signalement sera transmis à votre établissement, avec les derniers messages échangés. La personne signalée n'en saura rien.",
  reportSent: 'Votre signalement a été transmis à votre établissement.',
  fileSendFailed: "Le fichier n'a pas pu être envoyé. Réessayez dans un instant.",
  fileSharingOff: "Le partage de fichiers n'est pas ouvert dans votre établissement.",
  categoryTooMany: 'Vous avez déjà {n} catégories : supprimez-en une avant d’en créer une autre.',
  moveChooseFirst: "Choisissez d'abord une catégorie.",
  dragHint:
    'Pour ranger un contact, faites-le glisser sur une catégorie, ou ouvrez son menu et choisissez « Déplacer vers une autre catégorie ».',
  loginIntro: "Connectez-vous avec l'identifiant et le mot de passe de votre ENT.",
  loginPortalIntro: "Connectez-vous avec votre compte de l'ENT.",
  ssoEnded: "Votre session de l'ENT est terminée. Reconnectez-vous à l'ENT pour retrouver le chat.",
  ssoUnknownUser: "Votre compte de l'ENT n'a pas de compte de chat. Adressez-vous à votre établissement.",
  ssoNoAccess: "Le chat n'est pas ouvert pour votre compte.",
  ssoCasFailed: "La connexion avec l'ENT a échoué. Réessayez.",
  ssoUnreachable: "Le service de connexion de l'ENT ne répond pas. Réessayez dans un instant.",
  loginMissing: 'Saisissez votre identifiant et votre mot de passe.',
  loginUnreachable: 'Impossible de joindre le serveur de chat. Réessayez dans un instant.',
  loginSecureContext:
    "Cette page doit être ouverte en HTTPS pour que la connexion soit protégée. Contactez l'administrateur de l'ENT.",
  noContacts:
    "Vous n'avez pas encore de contact. Ouvrez le menu de « Tous mes contacts » et choisissez « Ajouter contacts ».",
  categoryNameMissing: 'Donnez un nom à la catégorie.',
  categoryReserved: '« {name} » est le nom d’une liste du chat ; choisissez un autre nom.',
  searchHint: 'Recherchez une personne de votre établissement par son nom ou son prénom.',
  alreadyContact: 'déjà dans vos contacts',
  addChooseFirst: "Choisissez d'abord une personne dans les résultats.",
  confirmDeleteContact:
    'Supprimer {name} de vos contacts ? Vous disparaîtrez aussi de sa liste de contacts.',
  requestsNone: "Vous n'avez aucune demande en attente.",
  conversationsNone:
    'Aucune conversation ouverte. Pour en commencer une, ouvrez le menu d’un contact disponible (voyant vert) et choisissez « Commencer conversation ».',
  roomNameMissing: 'Donnez un nom à la conversation.',
  roomLeftState: "Vous n'êtes plus dans cette conversation.",
  roomNotIn: 'Vous ne faites plus partie de cette conversation.',
  roomInvitedBy: '{name} vous invite dans une conversation.',
  inviteHint: 'Choisissez un de vos contacts disponibles (voyant vert).',
  inviteNone: "Aucun de vos contacts disponibles n'est hors de la conversation.",
  inviteChooseFirst: "Choisissez d'abord un contact.",
  myRoomsHint: 'Les conversations dont vous faites partie. Les ouvrir affiche leurs derniers messages.',
  myRoomsNone: "Vous ne faites partie d'aucune autre conversation.",
  offlineHint: '{name} est hors ligne : vos messages lui seront remis à sa prochaine connexion.',
  quietBanner:
    'Ne pas déranger : heures calmes jusqu’à {until}. Les messages reçus d’ici là vous seront remis à {until}.',
  quietHeld: '{name} est en heures calmes jusqu’à {until} : votre message lui sera remis à ce moment-là.',
  shutdownReadOnly: 'Messagerie en lecture seule : votre établissement a suspendu l’envoi de messages.',
  shutdownStaffToFamilies:
    'Messagerie restreinte par votre établissement : seuls les enseignants et le personnel peuvent écrire.',
  settingsNotifyDenied:
    'Votre navigateur refuse les notifications de ce site. Vous pouvez les autoriser dans les réglages du navigateur.',
  rulesRefusal: 'Les règles de votre établissement ne permettent pas cette action.',
};

const en: Catalogue = {
  appTitle: 'Chat',
  loginHeading: 'Sign in to chat',
  loginIntro: 'Sign in with the username and password of your school portal.',
  loginId: 'Username',
  loginPassword: 'Password',
  loginPortal: 'Sign in with the school portal',
  loginPortalIntro: 'Sign in with your school portal account.',
  loginPortalOr: 'or with a chat username and password:',
  ssoEnded: 'Your school portal session has ended. Sign in to the portal again to get back to the chat.',
  ssoUnknownUser: 'Your school portal account has no chat account. Ask your school.',
  ssoNoAccess: 'The chat is not open for your account.',
  ssoCasFailed: 'Signing in with the school portal failed. Try again.',
  ssoUnreachable: "The school portal's sign-in service does not answer. Try again in a moment.",
  loginSubmit: 'Sign in',
  loginConnecting: 'Signing in…',
  loginMissing: 'Enter your username and your password.',
  loginBadCredentials: 'Wrong username or password.',
  loginUnreachable: 'Cannot reach the chat server. Try again in a moment.',
  loginSecureContext:
    'This page must be opened over HTTPS so that the connection is protected. Contact the portal administrator.',
  logout: 'Sign out',
  connectionLost: 'Connection lost. Reconnecting…',
  connectionBack: 'Connection restored.',

  stateLabel: 'State: ',
  stateMenu: 'Change my state',
  available: 'Available',
  away: 'Away',
  dnd: 'Do not disturb',
  offline: 'Offline',

  tabContacts: 'Contacts',
  tabRequests: 'My requests',
  tabRequestsCount: 'My requests ({n})',
  contactTree: 'Contact list',
  allContacts: 'All my contacts',
  otherContacts: 'Other contacts',
  categoryCount: '{name} ({n})',
  pending: 'Invitation pending',
  refused: 'Invitation refused',
  noContacts: 'You have no contacts yet. Open the menu of “All my contacts” and choose “Add contacts”.',

  actions: 'Actions',
  actionsFor: 'Actions: {name}',
  createCategory: 'Create a category',
  addContacts: 'Add contacts',
  deleteCategory: 'Delete category',
  renameCategory: 'Rename category',
  moveContact: 'Move to another category',
  putInCategory: 'Put in a category',
  deleteContact: 'Delete contact',
  startConversation: 'Start conversation',
  privateMessage: 'Write privately',

  ok: 'OK',
  cancel: 'Cancel',
  yes: 'Yes',
  no: 'No',

  categoryName: 'Category name',
  categoryNameMissing: 'Give the category a name.',
  categoryExists: 'The category “{name}” already exists.',
  categoryReserved: '“{name}” is the name of a list of the chat; choose another name.',
  categoryTooLong: 'The category name is too long (at most {n} characters).',
  categoryTooMany: 'You already have {n} categories: delete one before creating another.',
  renameCategoryTitle: 'Rename the category “{name}”',
  categoryNewName: 'New name of the category',
  moveTitle: 'Move {name}',
  moveFrom: '{name} is in the category “{from}”.',
  moveFromOthers: '{name} is in “Other contacts”.',
  moveTo: 'To the category',
  moveButton: 'Move',
  moveChooseFirst: 'Choose a category first.',
  moveNowhere: 'There is no other category. Create it first with “Create a category” in the menu of “All my contacts”.',
  contactMoved: '{name} is now in “{to}”.',
  dragHint: 'To file a contact, drag it onto a category, or open its menu and choose “Move to another category”.',

  searchLabel: 'Search',
  searchButton: 'Search',
  searchHint: 'Search for a person of your school by last or first name.',
  searchResults: 'Search results',
  searching: 'Searching…',
  searchNone: 'Nobody matches this search.',
  searchCount: '{n} person(s) found.',
  alreadyContact: 'already one of your contacts',
  addInto: 'The contact will be added to the category “{name}”.',
  addIntoOthers: 'The contact will be added to “Other contacts”.',
  addContact: 'Add the contact',
  addChooseFirst: 'First choose a person in the results.',

  confirmDeleteCategory: 'Delete the category “{name}”? Its contacts will move to “Other contacts”.',
  confirmDeleteContact: 'Delete {name} from your contacts? You will also leave their contact list.',
  report: 'Report',
  reportTitle: 'Report {name}',
  reportMessageTitle: 'Report the message from {name}',
  reportMessage: 'Report this message',
  messageModerated: 'Message deleted by the moderators',
  deleteForEveryone: 'Delete for everyone',
  confirmDeleteForEveryone:
    'Delete this message from {name} for everyone? It disappears from the conversation and its archive.',
  messageActions: 'Options of the message from {name} at {time}',
  reportIntro: 'Your report will be sent to your school, with your latest messages. The person reported will not be told.',
  reportReason: 'Reason',
  reportAbuse: 'Harassment, insults or threats',
  reportSpam: 'Unwanted messages',
  reportOther: 'Other',
  reportDetails: 'Details (optional)',
  reportSend: 'Send the report',
  reportSent: 'Your report was sent to your school.',
  categoryRemoved: 'The category “{name}” has no contacts left: it was deleted.',

  requestsList: 'Requests received',
  requestsNone: 'You have no pending requests.',
  contactRequest: 'Contact request',
  accept: 'Accept',
  refuse: 'Refuse',

  conversations: 'Conversations',
  conversationsNone:
    'No open conversation. To start one, open the menu of an available contact (green light) and choose “Start conversation”.',
  conversationWith: 'Conversation with {name}',
  closeConversation: 'Close the conversation',
  unread: '{n} unread',
  messages: 'Messages',
  message: 'Message',
  send: 'Send',
  editorHelp: 'Enter sends the message, Shift+Enter starts a new line.',
  smileys: 'Insert a smiley',
  attachFile: 'Attach a file',
  sendingFile: 'Sending the file…',
  fileTooLarge: 'File too large: at most {max} MB.',
  fileTypeRefused: 'Only images (JPEG, PNG, WebP, GIF) and PDFs can be sent.',
  fileEmpty: 'This file is empty.',
  fileSendFailed: 'The file could not be sent. Try again in a moment.',
  fileSharingOff: 'File sharing is not open in your school.',
  sharedImage: 'Image: {name}',
  downloadFile: 'Download {name}',
  smileyPicker: 'Smileys',
  notDelivered: 'Message not delivered: {reason}',

  roomName: 'Name of the conversation',
  roomNameMissing: 'Give the conversation a name.',
  roomHeading: 'Conversation “{name}”',
  roomJoining: 'Entering the conversation…',
  roomParticipantsCount: '{n} participant(s)',
  roomLeftState: 'You are no longer in this conversation.',
  roomNotIn: 'You no longer belong to this conversation.',
  roomJoinFailed: 'Cannot enter the conversation: {reason}',
  roomDestroyed: 'This conversation no longer exists.',
  roomJoined: '{name} joined the conversation | {time}.',
  roomLeft: '{name} left the conversation: {time}',
  roomInvitedBy: '{name} invites you to a conversation.',
  roomInvitation: 'Invitation to a conversation',
  participants: 'Participants',
  participantsCount: 'Participants ({n})',
  newTab: '(new tab)',
  me: 'me',
  creator: 'creator',
  inviteContact: 'Invite contact',
  inviteHint: 'Choose one of your available contacts (green light).',
  inviteNone: 'None of your available contacts is outside the conversation.',
  inviteButton: 'Invite',
  inviteChooseFirst: 'First choose a contact.',
  inviteSent: 'Invitation sent to {name}.',
  inviteRefused: 'Cannot invite {name}: {reason}',
  removeParticipant: 'Remove from the conversation',
  confirmRemoveParticipant: 'Send this participant out of the conversation?',
  actionsForParticipant: 'Actions: {name}',
  myRooms: 'My conversations',
  olderMessages: 'Earlier messages',
  historyStart: 'Start of the conversation',
  myRoomsHint: 'The conversations you belong to. Opening one shows its last messages.',
  myRoomsNone: 'You belong to no other conversation.',
  myRoomsLoading: 'Loading…',
  openRoom: 'Open',

  offlineHint: '{name} is offline: your messages will be delivered at their next login.',
  quietBanner: 'Do not disturb: quiet hours until {until}. Messages received until then will be delivered at {until}.',
  quietHeld: '{name} is in quiet hours until {until}: your message will be delivered then.',
  shutdownReadOnly: 'Chat is read-only: your school has suspended sending messages.',
  shutdownStaffToFamilies: 'Chat restricted by your school: only teachers and staff can write.',
  shutdownSchoolText: 'Message from the school: "{text}"',
  settings: 'Settings',
  settingsNewMessages: 'New messages while the chat window is hidden',
  settingsNotify: 'Show a desktop notification',
  settingsSound: 'Play a sound',
  settingsNotifyDenied: 'Your browser refuses notifications from this site. You can allow them in the browser settings.',
  settingsNotifyUnsupported: 'This browser cannot show notifications.',
  close: 'Close',
  settingsAwayAfter: 'Switch to “Away” after a while without activity',
  settingsMinutes: '{n} minutes',
  settingsNever: 'Never',
  settingsData: 'My data',
  settingsDataIntro:
    'Download everything the chat server keeps about you (your contacts, your profile, your conversations) as a JSON file. To confirm, enter your password.',
  settingsDataIntroPortal:
    'Download everything the chat server keeps about you (your contacts, your profile, your conversations) as a JSON file.',
  settingsDataPassword: 'Password',
  settingsDataDownload: 'Download my data',
  settingsDataBusy: 'Preparing the file…',
  settingsDataBad: 'Wrong password.',
  settingsDataFailed: 'The file could not be prepared. Try again in a moment.',
  settingsDataDone: 'Your data was downloaded.',
  notifyRoom: '{name} in “{room}”',

  rulesRefusal: "Your school's rules do not allow this.",
  actionFailed: 'The action failed ({condition}).',
  dismiss: 'Dismiss this message',
};

/** Smileys of the picker, with their names in each language. */
export const SMILEYS: { char: string; fr: string; en: string }[] = [
  { char: '🙂', fr: 'sourire', en: 'smile' },
  { char: '😀', fr: 'grand sourire', en: 'grin' },
  { char: '😂', fr: 'rire aux larmes', en: 'tears of joy' },
  { char: '😉', fr: "clin d'œil", en: 'wink' },
  { char: '😍', fr: 'yeux en cœur', en: 'heart eyes' },
  { char: '😎', fr: 'lunettes de soleil', en: 'sunglasses' },
  { char: '🤔', fr: 'réflexion', en: 'thinking' },
  { char: '😮', fr: 'surprise', en: 'surprise' },
  { char: '😢', fr: 'larme', en: 'tear' },
  { char: '😡', fr: 'colère', en: 'anger' },
  { char: '👍', fr: 'pouce levé', en: 'thumbs up' },
  { char: '👎', fr: 'pouce baissé', en: 'thumbs down' },
  { char: '👏', fr: 'applaudissements', en: 'applause' },
  { char: '🙏', fr: 'merci', en: 'thanks' },
  { char: '❤️', fr: 'cœur', en: 'heart' },
  { char: '🎉', fr: 'fête', en: 'party' },
  { char: '📚', fr: 'livres', en: 'books' },
  { char: '✏️', fr: 'crayon', en: 'pencil' },
  { char: '⚽', fr: 'ballon', en: 'ball' },
  { char: '🎵', fr: 'musique', en: 'music' },
];

/** How the French texts speak to the user: « tu » to a pupil, « vous » to an adult. */
export type Register = 'tu' | 'vous';

/**
 * The register for a directory profile (`student`, `relative`, …): « tu »
 * for a pupil only; « vous » for everyone else, and for a profile unknown
 * (before the login, an account outside the directory).
 */
export function registerOf(profile: string | undefined): Register {
  return profile === 'student' ? 'tu' : 'vous';
}

/** A register asked for by the page's address (`?register=tu|vous`), from the portal. */
export function registerHint(search: string): Register | undefined {
  const r = new URLSearchParams(search).get('register');
  return r === 'tu' || r === 'vous' ? r : undefined;
}

/** The French catalogue in a register. */
export function frenchIn(register: Register): Catalogue {
  return register === 'tu' ? fr : { ...fr, ...vous };
}

const translators = {
  tu: translator<Key>({ fr: frenchIn('tu'), en }),
  vous: translator<Key>({ fr: frenchIn('vous'), en }),
};
let register: Register = 'vous';

/** Speak in `r` from now on (the screens re-render after the change). */
export function setRegister(r: Register): void {
  register = r;
}

export function currentRegister(): Register {
  return register;
}

export const t = (key: Key, params?: Record<string, string | number>): string => translators[register].t(key, params);

/**
 * What the model has to say, as data: a key of the catalogue with its
 * parameters (a date is a time of day, a nested one is said first), or a
 * text that came from the server in the user's language (`raw`). The model
 * never builds a sentence itself; the screens `say()` it.
 */
export type Say =
  | { key: Key; params?: Record<string, string | number | Date | Say> }
  | { raw: string };

export function say(s: Say): string {
  if ('raw' in s) return s.raw;
  const params: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(s.params ?? {})) {
    params[k] = v instanceof Date ? formatTime(v) : typeof v === 'object' ? say(v) : v;
  }
  return t(s.key, params);
}

export { byName, formatTime, lang };
export const catalogues = { fr, vous: frenchIn('vous'), en };
